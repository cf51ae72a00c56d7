// The console's reports pages (loaded by those pages only).
