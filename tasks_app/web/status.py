"""Status colours for places that cannot use Bootstrap's classes (the SVG chart), matching the badges."""
STATUS_COLOURS = {
    "success": "#198754",
    "failed": "#dc3545",
    "timeout": "#ffc107",
    "stopped": "#212529",
    "skipped": "#6c757d",
    "lost": "#dc3545",
    "running": "#0d6efd",
    "queued": "#0dcaf0",
}
