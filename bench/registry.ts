/** Every bench `npm run bench` knows. A bench returns report lines (markdown). */
import { ledgerBench } from './ledger';
import { redemptionBench } from './redemption';

export interface Bench {
  name: string;
  run(): Promise<string[]>;
}

export const benches: Bench[] = [ledgerBench, redemptionBench];
