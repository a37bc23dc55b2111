import { render } from 'preact';
import { QueryClient, QueryClientProvider } from '@tanstack/preact-query';
import { Client } from '../lib/api';
import { ClientContext } from '../lib/client';
import { Root } from './Root';
import './styles.css';

const client = new Client();
const queries = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 5_000,
      refetchOnWindowFocus: true,
      retry: (n, err) => n < 3 && !(err instanceof Error && 'status' in err && (err as { status: number }).status >= 400 && (err as { status: number }).status < 500),
    },
  },
});

render(
  <ClientContext.Provider value={client}>
    <QueryClientProvider client={queries}>
      <Root />
    </QueryClientProvider>
  </ClientContext.Provider>,
  document.getElementById('root')!,
);
