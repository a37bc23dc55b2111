// The work-order list's strings.
import { defineMessages } from '../../i18n';

export const listMessages = defineMessages(
  {
    'list.title': 'Work orders',
    'list.count': '{n} orders',
    'list.loading': '{n} orders so far, loading more…',
    'list.more': '{n} orders shown; narrow the filters to see others',
    'list.status': 'Status',
    'list.priority': 'Priority',
    'list.source': 'Source',
    'list.all': 'All',
    'list.search': 'Search number or title',
    'list.col.number': 'Order',
    'list.col.title': 'Title',
    'list.col.created': 'Created',
    'list.col.due': 'Due',
    'list.empty': 'No orders match.',
    'list.keys': 'Keys: ↑/↓ move · Enter open · Home/End',
  },
  {
    'list.title': '工单',
    'list.count': '共 {n} 条',
    'list.loading': '已加载 {n} 条，继续加载…',
    'list.more': '已显示 {n} 条；请缩小筛选范围查看其他工单',
    'list.status': '状态',
    'list.priority': '优先级',
    'list.source': '来源',
    'list.all': '全部',
    'list.search': '搜索编号或标题',
    'list.col.number': '工单',
    'list.col.title': '标题',
    'list.col.created': '创建时间',
    'list.col.due': '截止',
    'list.empty': '没有匹配的工单。',
    'list.keys': '按键：↑/↓ 移动 · Enter 打开 · Home/End',
  },
);
