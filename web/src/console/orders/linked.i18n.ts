import { defineMessages } from '../../i18n';

export const linkedMessages = defineMessages(
  {
    'linked.title': 'Linked assets',
    'linked.explain': 'These assets rise together with this order’s asset; they were linked to this order instead of getting orders of their own.',
    'linked.signals': '{n} signals',
    'linked.split': 'Split into its own order',
    'linked.splitInto': 'split into {number}',
    'linked.failed': 'Could not split: {message}',
  },
  {
    'linked.title': '关联设备',
    'linked.explain': '这些设备与本工单的设备同步上升，已关联到本工单，未单独生成工单。',
    'linked.signals': '{n} 条信号',
    'linked.split': '拆分为独立工单',
    'linked.splitInto': '已拆分为 {number}',
    'linked.failed': '拆分失败：{message}',
  },
);
