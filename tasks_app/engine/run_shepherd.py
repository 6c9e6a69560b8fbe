"""What the engine runs to start a run's shepherd: `python -E -s -u -X utf8 run_shepherd.py <execution id>
<script>`. It only imports shepherd.py, which then loads from its cached bytecode instead of being compiled
again at every launch (a few milliseconds of CPU per run)."""
import shepherd

shepherd.launch()
