"""The web front's guards, shared by the pages, the admin and the API: who the client is (its address), login
throttling, and the cap on request bodies."""
