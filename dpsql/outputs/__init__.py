"""What a compile or a build leaves behind: artifacts and the docs site."""
