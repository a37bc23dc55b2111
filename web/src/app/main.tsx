import { render } from 'preact';
import { QueryClient, QueryClientProvider } from '@tanstack/preact-query';
import { Client } from '../lib/api';
import { ClientContext } from '../lib/client';
import { App } from './App';
import './app.css';

const client = new Client();
const queries = new QueryClient({
  defaultOptions: { queries: { staleTime: 10_000, refetchOnWindowFocus: true, networkMode: 'always', retry: false } },
});

render(
  <ClientContext.Provider value={client}>
    <QueryClientProvider client={queries}>
      <App />
    </QueryClientProvider>
  </ClientContext.Provider>,
  document.getElementById('root')!,
);

if ('serviceWorker' in navigator) {
  // Served from /app/, so its scope is /app/: it keeps the shell for offline starts.
  window.addEventListener('load', () => void navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {}));
}
