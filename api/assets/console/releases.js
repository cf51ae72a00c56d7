// The console's releases pages (loaded by those pages only). They need no script of their
// own: live parts are polled by htmx, and console.js asks before Publish and Cancel.
"use strict";
