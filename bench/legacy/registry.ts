/** Every bench `npm run bench` knows. A bench returns report lines (markdown). */
import { creditExportBench } from './credit-export';
import { ledgerBench } from './ledger';
import { redemptionBench } from './redemption';
import { volunteerServiceBench } from './volunteer-service';

export interface Bench {
  name: string;
  run(): Promise<string[]>;
}

export const benches: Bench[] = [
  ledgerBench,
  redemptionBench,
  creditExportBench,
  volunteerServiceBench,
];
