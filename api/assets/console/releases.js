// The console's releases pages (loaded by those pages only).
