# bash completion for tend (placeholder; the real one comes with the docs branch)
