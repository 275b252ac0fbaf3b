import { expect } from '../support/expect';
import {
  http,
  makeAdmin,
  makeHousehold,
  makeVillage,
  verifyChainViaApi,
} from '../support/factories';

describe('smoke', () => {
  it('GET /healthz answers', async () => {
    const res = await http().get('/healthz');
    expect(res.status).to.equal(200);
  });
  it('an adjustment posts and the chain verifies', async () => {
    const admin = await makeAdmin();
    const v = await makeVillage();
    const h = await makeHousehold(v.id);
    const res = await http()
      .post(`/v1/households/${h.id}/adjustments`)
      .set(admin.auth)
      .send({ points: 10, reason: '测试' });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    await verifyChainViaApi(h.id, admin.auth);
  });
});
