/**
 * Imports every module's models so they are registered with mongoose before ensureIndexes()
 * runs in a process that does not load the routes (workers, CLI).
 */
import './ledger/ledger.model';
import './villages/villages.model';
import './households/households.model';
import './households/adjustments.model';
import './users/users.model';
import './stores/stores.model';
import './stores/items.model';
import './redemption/redemption.model';
import './cooperatives/cooperatives.model';
import './inquiries/inquiries.model';
import './credit/credit.model';
import './rules/rules.model';
import './submissions/submissions.model';
import './notifications/notifications.model';
import './boards/boards.model';
import './boards/board-links.model';
import './attachments/attachments.model';
import './levels/levels.model';
import './volunteers/volunteers.model';
import './teams/teams.model';
import './service-menu/service-menu.model';
import './service-orders/service-orders.model';
import './rankings/rankings.model';
import './oversight/oversight.model';
