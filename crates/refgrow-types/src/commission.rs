//! The commission rule and its math (in progress).
