//! Standard Webhooks signatures (in progress).
