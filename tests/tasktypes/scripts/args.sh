# No #! line and not executable: the example plugin's bash type runs it with bash -eu.
echo "args: $*"
echo "token: $API_TOKEN"
