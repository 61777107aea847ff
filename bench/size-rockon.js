// What an app ships for rockon-sync itself: the module and its glue. The React bindings are
// measured apart (bench/size-hooks.js), as the baseline's figure has no React bindings either.
import * as sync from 'rockon-sync';

window.rockonSync = sync;
