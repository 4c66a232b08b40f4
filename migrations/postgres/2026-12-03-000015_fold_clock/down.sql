DROP TABLE fold_clock;
