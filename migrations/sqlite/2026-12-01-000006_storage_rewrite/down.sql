DELETE FROM notify_state WHERE key = 'rewrite_day';
