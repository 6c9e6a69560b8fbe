"""What the engine runs to start a run's shepherd: `python -E -s -u -X utf8 run_shepherd.py <run label>
<script>`. It only imports the shepherd package, which then loads from its cached bytecode instead of being
compiled again at every launch (a few milliseconds of CPU per run)."""
from shepherd.main import launch

launch()
