-- Unfolded changes are lost with the table: fold them first (the server does it within a
-- second of the last sale, and at start).
DROP TABLE stats_deltas;
