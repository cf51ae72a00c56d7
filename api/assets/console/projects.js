// The console's projects pages (loaded by those pages only).
