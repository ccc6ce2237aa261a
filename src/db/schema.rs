// The one schema for both backends; column types are those that diesel's
// MultiBackend maps on SQLite and PostgreSQL alike.

diesel::table! {
    cases (id) {
        id -> Text,
        locator -> Binary,
        reporter_recipient -> Text,
        status -> Text,
        closure_reason -> Nullable<Text>,
        received_on -> Date,
        ack_due -> Date,
        acknowledged_on -> Nullable<Date>,
        feedback_due -> Date,
        closed_on -> Nullable<Date>,
        on_hold -> Bool,
        readership -> Text,
        referred -> Bool,
        feedback_on -> Nullable<Date>,
    }
}

diesel::table! {
    entries (id) {
        id -> Text,
        case_id -> Text,
        position -> Integer,
        kind -> Text,
        created_on -> Date,
        ciphertext -> Binary,
        unread -> Bool,
        replied_by -> Nullable<Text>,
    }
}

diesel::joinable!(entries -> cases (case_id));
diesel::allow_tables_to_appear_in_same_query!(cases, entries, attachments, attachment_chunks);

diesel::table! {
    challenges (id) {
        id -> Text,
        digest -> Binary,
        expires_at -> BigInt,
        spent -> Bool,
        role -> Text,
        key_fingerprint -> Text,
    }
}

diesel::table! {
    login_seeds (minute) {
        minute -> BigInt,
        seed -> Binary,
    }
}

diesel::table! {
    login_proofs (digest) {
        digest -> Binary,
        expires_at -> BigInt,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Binary,
        csrf_hash -> Binary,
        created_at -> BigInt,
        last_seen -> BigInt,
        role -> Text,
        key_fingerprint -> Text,
    }
}

diesel::table! {
    journal (id) {
        id -> Text,
        case_id -> Nullable<Text>,
        action -> Text,
        detail -> Nullable<Text>,
        occurred_at -> BigInt,
        readership -> Text,
        role -> Nullable<Text>,
        key_fingerprint -> Nullable<Text>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        kind -> Text,
        ack_soon -> Integer,
        feedback_soon -> Integer,
        overdue -> Integer,
        due_at -> BigInt,
        next_attempt_at -> BigInt,
        attempts -> Integer,
        claimed_by -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        role -> Text,
    }
}

diesel::table! {
    notify_state (key) {
        key -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    attachments (id) {
        id -> Text,
        case_id -> Nullable<Text>,
        size -> BigInt,
        pending_until -> Nullable<BigInt>,
        readership -> Text,
    }
}

diesel::table! {
    attachment_chunks (attachment_id, seq) {
        attachment_id -> Text,
        seq -> Integer,
        bytes -> Binary,
    }
}

diesel::joinable!(attachment_chunks -> attachments (attachment_id));

diesel::table! {
    purged_figures (id) {
        id -> Text,
        received_month -> Text,
        closure_reason -> Nullable<Text>,
        ack_days -> Nullable<Integer>,
        close_days -> Nullable<Integer>,
        feedback_on_time -> Bool,
        readership -> Text,
    }
}
diesel::allow_tables_to_appear_in_same_query!(journal, cases);

diesel::table! {
    submissions (key_hash) {
        key_hash -> Binary,
        used_on -> Date,
    }
}
