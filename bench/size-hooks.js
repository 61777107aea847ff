// What an app adds to use rockon-sync's React bindings (React itself excluded).
import * as hooks from 'rockon-sync/react';

window.rockonSyncHooks = hooks;
