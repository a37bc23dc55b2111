// The rules screen's strings.
import { defineMessages } from '../../i18n';

export const rulesMessages = defineMessages(
  {
    'nav.rules': 'Rules',
    'rules.title': 'Rules',
    'rules.empty': 'No rules yet.',
    'rules.edit': 'Edit {name}',
    'rules.warn': 'Warning limit',
    'rules.critical': 'Critical limit',
    'rules.for': 'Sustained for (e.g. 5m)',
    'rules.verifyFor': 'Post-repair verification: healthy for (default 24h)',
    'rules.enabled': 'Enabled',
    'rules.preview': 'Preview the last 30 days',
    'rules.save': 'Save',
    'rules.saved': 'Saved {name}',
    'rules.result': '{signals} signals and {orders} orders in the last 30 days with this draft',
    'rules.chart': '{metric} of {asset} over 30 days with the draft limits and the signals it would raise',
    'rules.asset': 'Asset shown',
  },
  {
    'nav.rules': '规则',
    'rules.title': '规则',
    'rules.empty': '暂无规则。',
    'rules.edit': '编辑 {name}',
    'rules.warn': '预警阈值',
    'rules.critical': '严重阈值',
    'rules.for': '持续时间（如 5m）',
    'rules.verifyFor': '维修后验证：持续正常时长（默认 24h）',
    'rules.enabled': '启用',
    'rules.preview': '预览近 30 天',
    'rules.save': '保存',
    'rules.saved': '已保存 {name}',
    'rules.result': '按此草稿，近 30 天会产生 {signals} 个信号和 {orders} 个工单',
    'rules.chart': '{asset} 的 {metric} 近 30 天数据，含草稿阈值及会触发的信号',
    'rules.asset': '显示的设备',
  },
);
