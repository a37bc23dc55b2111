// The live-updates indicator's strings.
import { defineMessages } from '../i18n';

export const liveMessages = defineMessages(
  {
    'live.live': 'Live: changes appear as they happen',
    'live.connecting': 'Connecting to live updates…',
    'live.offline': 'Live updates interrupted; reconnecting',
  },
  {
    'live.live': '实时：变更即时显示',
    'live.connecting': '正在连接实时更新…',
    'live.offline': '实时更新已中断，正在重连',
  },
);
