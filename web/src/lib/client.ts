import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { Client } from './api';

export const ClientContext = createContext<Client>(new Client());

export function useClient(): Client {
  return useContext(ClientContext);
}
