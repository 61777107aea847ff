// What a bundler must resolve from the installed package: the module and its React bindings.
import { SyncClient, version } from 'rockon-sync';
import { SyncProvider, useSongs } from 'rockon-sync/react';

console.log(version(), typeof SyncClient.open, typeof SyncProvider, typeof useSongs);
