import { defineMessages } from '../../i18n';

export const transferMessages = defineMessages(
  {
    'transfer.title': 'Transfer requested',
    'transfer.text': '{by} asks to hand this job to {to}.',
    'transfer.approve': 'Approve transfer',
    'transfer.reject': 'Keep with current engineer',
    'transfer.helpers': 'Helpers: {n}',
    'transfer.failed': 'Could not decide: {message}',
  },
  {
    'transfer.title': '转单申请',
    'transfer.text': '{by} 申请将此工单转给 {to}。',
    'transfer.approve': '批准转单',
    'transfer.reject': '保留原工程师',
    'transfer.helpers': '协助人：{n} 位',
    'transfer.failed': '操作失败：{message}',
  },
);
