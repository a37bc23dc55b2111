// The console's dictionary: the shared strings and every screen's own.
// A new screen adds its X.i18n.ts here.
import { makeUseI18n, mergeMessages } from '../i18n';
import { common } from '../i18n/common';
import { reviewMessages } from './review.i18n';
import { kpiMessages } from './kpis/kpis.i18n';
import { liveMessages } from './live.i18n';
import { dispatchMessages } from './dispatch/dispatch.i18n';
import { orderMessages } from './orders/order.i18n';
import { listMessages } from './orders/list.i18n';
import { assetMessages } from './assets/asset.i18n';
import { rulesMessages } from './rules/rules.i18n';
import { gatewayMessages } from './gateways/gateways.i18n';
import { inventoryMessages } from './inventory/inventory.i18n';
import { customersMessages } from './customers/customers.i18n';
import { fleetMessages } from './fleet/fleet.i18n';

export const consoleMessages = mergeMessages(
  common,
  reviewMessages,
  kpiMessages,
  liveMessages,
  dispatchMessages,
  orderMessages,
  listMessages,
  assetMessages,
  rulesMessages,
  gatewayMessages,
  inventoryMessages,
  customersMessages,
  fleetMessages,
);
export type ConsoleKey = keyof (typeof consoleMessages)['en'];
export const useI18n = makeUseI18n(consoleMessages);
