// The public pages' dictionary.
import { makeUseI18n, mergeMessages } from '../i18n';
import { publicMessages } from './public.i18n';

export const pageMessages = mergeMessages(publicMessages);
export type PublicKey = keyof (typeof pageMessages)['en'];
export const useI18n = makeUseI18n(pageMessages);
