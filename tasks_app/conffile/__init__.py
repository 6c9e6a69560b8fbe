"""conf/tasks.json on disk: crash-safe JSON files, the file's shape, the mirror of the database and its backups."""
