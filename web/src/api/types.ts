// Types of the API, generated from the served OpenAPI document
// (web/openapi.json → schema.d.ts by `npm run gen:api`). The build fails
// when the console uses something the document no longer describes.
import type { components } from './schema';

type S = components['schemas'];
export type WorkOrder = S['WorkOrder'];
export type WorkOrderDetail = S['WorkOrderDetail'];
export type User = S['User'];
export type Session = S['Session'];
export type Asset = S['Asset'];
export type Site = S['Site'];
export type Engineer = S['Engineer'];

export interface List<T> {
  items: T[];
  next_cursor: string;
}
