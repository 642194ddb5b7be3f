"""The reconcile providers of `ops observe`: one module per kind of resource it manages."""
