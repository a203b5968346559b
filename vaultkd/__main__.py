from vaultkd.cli import main

# Guarded: worker processes started with "spawn" (VaultGraph.build(jobs=…) in a process that
# runs other threads) import this module again and must not start a second CLI run.
if __name__ == "__main__":
    main()
