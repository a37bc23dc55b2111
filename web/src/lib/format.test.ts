import { describe, expect, it } from 'vitest';
import { formatDateTime, formatDuration, parseDuration, secondsUntil } from './format';
import { initialLang, translate } from '../i18n';
import { consoleMessages } from '../console/i18n';
import { toApiError } from './api';

describe('durations', () => {
  it('shows the two largest units', () => {
    expect(formatDuration(5 * 3600 + 59 * 60 + 56.17, 'en')).toBe('5h 59m');
    expect(formatDuration(3 * 86400 + 4 * 3600 + 5, 'en')).toBe('3d 4h');
    expect(formatDuration(42, 'en')).toBe('42s');
    expect(formatDuration(0, 'en')).toBe('0s');
    expect(formatDuration(3 * 86400 + 4 * 3600, 'zh-CN')).toBe('3天4小时');
  });
  it('parses Go and contract durations, refusing anything else', () => {
    expect(parseDuration('5h59m56.171995835s')).toBeCloseTo(21596.172, 3);
    expect(parseDuration('7d')).toBe(604800);
    expect(parseDuration('5m')).toBe(300);
    expect(parseDuration('5 minutes')).toBeNaN();
    expect(parseDuration('')).toBeNaN();
  });
});

describe('dates', () => {
  it('formats in the given zone', () => {
    expect(formatDateTime('2026-03-01T12:05:00Z', 'en', 'Asia/Shanghai')).toContain('20:05');
    expect(formatDateTime('2026-03-01T12:05:00Z', 'en', 'UTC')).toContain('12:05');
  });
  it('shows nothing for a missing or zero time rather than year 1', () => {
    expect(formatDateTime(null, 'en')).toBe('');
    expect(formatDateTime('0001-01-01T00:00:00Z', 'en')).toBe('');
  });
  it('counts seconds until a time', () => {
    expect(secondsUntil('2026-03-01T00:01:00Z', Date.parse('2026-03-01T00:00:00Z'))).toBe(60);
  });
});

describe('i18n', () => {
  it('has every English key in Chinese, none empty', () => {
    const m = consoleMessages;
    for (const k of Object.keys(m.en) as (keyof typeof m.en)[]) expect(m['zh-CN'][k], k).toBeTruthy();
  });
  it('fills variables', () => {
    expect(translate(consoleMessages, 'zh-CN', 'review.count', { n: 3 })).toBe('3 条待审核');
    expect(translate(consoleMessages, 'en', 'review.approved', { number: 'WO-000001' })).toBe('WO-000001 approved');
  });
  it('starts in the saved language, else the browser’s', () => {
    expect(initialLang(null, ['zh-TW', 'en'])).toBe('zh-CN');
    expect(initialLang(null, ['en-GB'])).toBe('en');
    expect(initialLang('en', ['zh-CN'])).toBe('en');
    expect(initialLang(null, ['fr'])).toBe('en');
  });
});

describe('API errors', () => {
  it('keeps every invalid field', () => {
    const e = toApiError(400, { error: { code: 'bad_request', message: 'invalid', fields: [{ field: 'reason', message: 'must be one of' }, { field: 'note', message: 'required' }] } });
    expect(e.code).toBe('bad_request');
    expect(e.fieldMessage('note')).toBe('required');
    expect(e.fieldMessage('reason')).toBe('must be one of');
  });
  it('survives a body that is not the contract’s', () => {
    const e = toApiError(502, 'gateway');
    expect(e.code).toBe('http_502');
  });
});
