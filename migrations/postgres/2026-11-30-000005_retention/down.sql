DROP TABLE purged_figures;
DELETE FROM notify_state WHERE key = 'purge_day';
