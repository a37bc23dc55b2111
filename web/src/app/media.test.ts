import { describe, expect, it } from 'vitest';
import { mapLinks, parseLabel } from './media';

describe('labels and maps', () => {
  it('reads an asset id from a URL, a site/code pair or a bare code', () => {
    expect(parseLabel('https://pdm.example/app/assets/0C3A5B1E-1111-4222-8333-444455556666')).toEqual({ id: '0c3a5b1e-1111-4222-8333-444455556666' });
    expect(parseLabel('pdm:asset:plant1/pump-1')).toEqual({ site: 'plant1', code: 'pump-1' });
    expect(parseLabel(' pump-1 ')).toEqual({ code: 'pump-1' });
  });
  it('opens the phone map app with geo:', () => {
    const l = mapLinks(31.3, 120.6, 'Pump 1');
    expect(l.geo).toBe('geo:31.3,120.6?q=31.3,120.6(Pump%201)');
    expect(l.web).toContain('mlat=31.3');
  });
});
