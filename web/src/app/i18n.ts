// The app's dictionary: the shared strings and the app's own.
import { makeUseI18n, mergeMessages } from '../i18n';
import { common } from '../i18n/common';
import { appMessages } from './app.i18n';

export const messages = mergeMessages(common, appMessages);
export type AppKey = keyof (typeof messages)['en'];
export const useI18n = makeUseI18n(messages);
