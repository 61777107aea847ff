// What an app ships for the baseline sync layer: supabase-js, Dexie and the layer itself.
import { BaselineSync } from './baseline.js';

window.BaselineSync = BaselineSync;
