"""Reading a workspace from disk: YAML with line numbers, dpsql.yml and product.yml, the model files."""
