// What an app ships to use rockon-sync with its React bindings (React itself excluded).
import * as sync from 'rockon-sync';
import * as hooks from 'rockon-sync/react';

window.rockonSync = { sync, hooks };
