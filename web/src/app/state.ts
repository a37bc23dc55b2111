import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { Outbox } from './outbox';
import { allOps, type Op } from './db';

export const OutboxContext = createContext<Outbox>(new Outbox());

export function useOutbox(): Outbox {
  return useContext(OutboxContext);
}

/** The outbox's ops, live. */
export function useOps(): Op[] {
  const box = useOutbox();
  const [ops, setOps] = useState<Op[]>([]);
  useEffect(() => {
    let alive = true;
    const load = () => void allOps().then((o) => alive && setOps(o));
    load();
    const off = box.subscribe(load);
    return () => {
      alive = false;
      off();
    };
  }, [box]);
  return ops;
}

/** Whether the browser says it is online, live. */
export function useOnline(): boolean {
  const [on, setOn] = useState(navigator.onLine);
  useEffect(() => {
    const up = () => setOn(true);
    const down = () => setOn(false);
    window.addEventListener('online', up);
    window.addEventListener('offline', down);
    return () => {
      window.removeEventListener('online', up);
      window.removeEventListener('offline', down);
    };
  }, []);
  return on;
}
