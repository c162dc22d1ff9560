-- accounts, dry run

SELECT SUM(CASE
               WHEN 1 = 1 THEN (CASE
                                    WHEN (p.email IS NOT NULL
                                          AND p.email <> '') THEN 0
                                    ELSE 1
                                END)
               ELSE 0
           END),
       SUM(CASE
               WHEN 1 = 1 THEN (CASE
                                    WHEN p.whatsapp_opt_in THEN 0
                                    ELSE 1
                                END)
               ELSE 0
           END),
       SUM(CASE
               WHEN 1 = 1
                    AND p.whatsapp_opt_in THEN (CASE
                                                    WHEN p.phone ~ %s THEN 0
                                                    ELSE 1
                                                END)
               ELSE 0
           END)
FROM
  (SELECT "lms_user"."email" AS "email",
          "lms_user"."phone" AS "phone",
          "lms_user"."whatsapp_opt_in" AS "whatsapp_opt_in",
          "lms_user"."name" AS "name",
          "lms_user"."timezone" AS "timezone",
          "lms_user"."id" AS "recipient_id",
          ("lms_user"."timezone")::text AS "plan_group"
   FROM "lms_user") p
JOIN jsonb_to_recordset(%s::jsonb) AS g (key text, event_id bigint, group_id bigint, event_key text, subject_id bigint, expires_at timestamptz, link text, context jsonb, title text, message text) ON g.key = p."plan_group"
WHERE NOT coalesce(((p.email IS NOT NULL
                     AND p.email <> '')
                    AND p.whatsapp_opt_in
                    AND p.phone ~ %s), false)
  AND NOT EXISTS
    (SELECT 1
     FROM "notifications_delivery" d
     WHERE d.event_id = g.event_id
       AND d.channel = %s
       AND d.recipient_id = p.recipient_id);

SELECT count(*)
FROM
  (SELECT g.event_id AS event_id,
          p.recipient_id AS recipient_id,
          %s AS channel,
          lower(p.email) AS to_address,
          g.group_id AS group_id,
          NULL AS own_context,
          %s AS status,
          %s AS attempts,
          %s AS next_attempt_at,
          %s AS priority,
          NULL AS expires_at,
          %s AS claimed_at,
          %s AS claim_token,
          %s AS handed_over_at,
          %s AS provider_message_id,
          %s AS error_code,
          %s AS last_error,
          %s AS rendered_subject,
          %s AS rendered_text,
          %s AS template_version_id,
          %s AS is_test,
          %s AS whatsapp_category,
          %s AS cost,
          %s AS created_at,
          %s AS sent_at,
          %s AS delivered_at,
          %s AS opened_at,
          %s AS clicked_at,
          %s AS updated_at,
          %s || g.event_key AS plan_event_key
   FROM
     (SELECT "lms_user"."email" AS "email",
             "lms_user"."phone" AS "phone",
             "lms_user"."whatsapp_opt_in" AS "whatsapp_opt_in",
             "lms_user"."name" AS "name",
             "lms_user"."timezone" AS "timezone",
             "lms_user"."id" AS "recipient_id",
             ("lms_user"."timezone")::text AS "plan_group"
      FROM "lms_user") p
   JOIN jsonb_to_recordset(%s::jsonb) AS g (key text, event_id bigint, group_id bigint, event_key text, subject_id bigint, expires_at timestamptz, link text, context jsonb, title text, message text) ON g.key = p."plan_group"
   WHERE (p.email IS NOT NULL
          AND p.email <> '')) s
WHERE NOT EXISTS
    (SELECT 1
     FROM "notifications_delivery" d
     WHERE d.event_id = s.event_id
       AND d.channel = %s
       AND d.recipient_id = s.recipient_id);

SELECT s.to_address,
       s.plan_event_key
FROM
  (SELECT g.event_id AS event_id,
          p.recipient_id AS recipient_id,
          %s AS channel,
          lower(p.email) AS to_address,
          g.group_id AS group_id,
          NULL AS own_context,
          %s AS status,
          %s AS attempts,
          %s AS next_attempt_at,
          %s AS priority,
          NULL AS expires_at,
          %s AS claimed_at,
          %s AS claim_token,
          %s AS handed_over_at,
          %s AS provider_message_id,
          %s AS error_code,
          %s AS last_error,
          %s AS rendered_subject,
          %s AS rendered_text,
          %s AS template_version_id,
          %s AS is_test,
          %s AS whatsapp_category,
          %s AS cost,
          %s AS created_at,
          %s AS sent_at,
          %s AS delivered_at,
          %s AS opened_at,
          %s AS clicked_at,
          %s AS updated_at,
          %s || g.event_key AS plan_event_key
   FROM
     (SELECT "lms_user"."email" AS "email",
             "lms_user"."phone" AS "phone",
             "lms_user"."whatsapp_opt_in" AS "whatsapp_opt_in",
             "lms_user"."name" AS "name",
             "lms_user"."timezone" AS "timezone",
             "lms_user"."id" AS "recipient_id",
             ("lms_user"."timezone")::text AS "plan_group"
      FROM "lms_user") p
   JOIN jsonb_to_recordset(%s::jsonb) AS g (key text, event_id bigint, group_id bigint, event_key text, subject_id bigint, expires_at timestamptz, link text, context jsonb, title text, message text) ON g.key = p."plan_group"
   WHERE (p.email IS NOT NULL
          AND p.email <> '')) s
WHERE NOT EXISTS
    (SELECT 1
     FROM "notifications_delivery" d
     WHERE d.event_id = s.event_id
       AND d.channel = %s
       AND d.recipient_id = s.recipient_id)
ORDER BY s.plan_event_key,
         s.to_address
LIMIT %s;

SELECT count(*)
FROM
  (SELECT g.event_id AS event_id,
          p.recipient_id AS recipient_id,
          %s AS channel,
          p.phone AS to_address,
          g.group_id AS group_id,
          NULL AS own_context,
          %s AS status,
          %s AS attempts,
          %s AS next_attempt_at,
          %s AS priority,
          NULL AS expires_at,
          %s AS claimed_at,
          %s AS claim_token,
          %s AS handed_over_at,
          %s AS provider_message_id,
          %s AS error_code,
          %s AS last_error,
          %s AS rendered_subject,
          %s AS rendered_text,
          %s AS template_version_id,
          %s AS is_test,
          %s AS whatsapp_category,
          %s AS cost,
          %s AS created_at,
          %s AS sent_at,
          %s AS delivered_at,
          %s AS opened_at,
          %s AS clicked_at,
          %s AS updated_at,
          %s || g.event_key AS plan_event_key
   FROM
     (SELECT "lms_user"."email" AS "email",
             "lms_user"."phone" AS "phone",
             "lms_user"."whatsapp_opt_in" AS "whatsapp_opt_in",
             "lms_user"."name" AS "name",
             "lms_user"."timezone" AS "timezone",
             "lms_user"."id" AS "recipient_id",
             ("lms_user"."timezone")::text AS "plan_group"
      FROM "lms_user") p
   JOIN jsonb_to_recordset(%s::jsonb) AS g (key text, event_id bigint, group_id bigint, event_key text, subject_id bigint, expires_at timestamptz, link text, context jsonb, title text, message text) ON g.key = p."plan_group"
   WHERE p.whatsapp_opt_in
     AND p.phone ~ %s) s
WHERE NOT EXISTS
    (SELECT 1
     FROM "notifications_delivery" d
     WHERE d.event_id = s.event_id
       AND d.channel = %s
       AND d.recipient_id = s.recipient_id);

SELECT s.to_address,
       s.plan_event_key
FROM
  (SELECT g.event_id AS event_id,
          p.recipient_id AS recipient_id,
          %s AS channel,
          p.phone AS to_address,
          g.group_id AS group_id,
          NULL AS own_context,
          %s AS status,
          %s AS attempts,
          %s AS next_attempt_at,
          %s AS priority,
          NULL AS expires_at,
          %s AS claimed_at,
          %s AS claim_token,
          %s AS handed_over_at,
          %s AS provider_message_id,
          %s AS error_code,
          %s AS last_error,
          %s AS rendered_subject,
          %s AS rendered_text,
          %s AS template_version_id,
          %s AS is_test,
          %s AS whatsapp_category,
          %s AS cost,
          %s AS created_at,
          %s AS sent_at,
          %s AS delivered_at,
          %s AS opened_at,
          %s AS clicked_at,
          %s AS updated_at,
          %s || g.event_key AS plan_event_key
   FROM
     (SELECT "lms_user"."email" AS "email",
             "lms_user"."phone" AS "phone",
             "lms_user"."whatsapp_opt_in" AS "whatsapp_opt_in",
             "lms_user"."name" AS "name",
             "lms_user"."timezone" AS "timezone",
             "lms_user"."id" AS "recipient_id",
             ("lms_user"."timezone")::text AS "plan_group"
      FROM "lms_user") p
   JOIN jsonb_to_recordset(%s::jsonb) AS g (key text, event_id bigint, group_id bigint, event_key text, subject_id bigint, expires_at timestamptz, link text, context jsonb, title text, message text) ON g.key = p."plan_group"
   WHERE p.whatsapp_opt_in
     AND p.phone ~ %s) s
WHERE NOT EXISTS
    (SELECT 1
     FROM "notifications_delivery" d
     WHERE d.event_id = s.event_id
       AND d.channel = %s
       AND d.recipient_id = s.recipient_id)
ORDER BY s.plan_event_key,
         s.to_address
LIMIT %s;

SELECT count(*)
FROM
  (SELECT p.recipient_id AS user_id,
          %s AS kind,
          g.title AS title,
          g.message AS message,
          g.link AS link,
          %s AS read_at,
          %s AS created_at,
          g.event_id AS event_id,
          %s || g.event_key AS plan_event_key
   FROM
     (SELECT "lms_user"."email" AS "email",
             "lms_user"."phone" AS "phone",
             "lms_user"."whatsapp_opt_in" AS "whatsapp_opt_in",
             "lms_user"."name" AS "name",
             "lms_user"."timezone" AS "timezone",
             "lms_user"."id" AS "recipient_id",
             ("lms_user"."timezone")::text AS "plan_group"
      FROM "lms_user") p
   JOIN jsonb_to_recordset(%s::jsonb) AS g (key text, event_id bigint, group_id bigint, event_key text, subject_id bigint, expires_at timestamptz, link text, context jsonb, title text, message text) ON g.key = p."plan_group"
   WHERE p.recipient_id IS NOT NULL) s
WHERE NOT EXISTS
    (SELECT 1
     FROM "notifications_notification" d
     WHERE d.event_id = s.event_id
       AND d.user_id = s.user_id);

-- accounts

WITH made AS
  (INSERT INTO "notifications_delivery" ("event_id",
                                         "recipient_id",
                                         "channel",
                                         "to_address",
                                         "group_id",
                                         "own_context",
                                         "status",
                                         "attempts",
                                         "next_attempt_at",
                                         "priority",
                                         "expires_at",
                                         "claimed_at",
                                         "claim_token",
                                         "handed_over_at",
                                         "provider_message_id",
                                         "error_code",
                                         "last_error",
                                         "rendered_subject",
                                         "rendered_text",
                                         "template_version_id",
                                         "is_test",
                                         "whatsapp_category",
                                         "cost",
                                         "created_at",
                                         "sent_at",
                                         "delivered_at",
                                         "opened_at",
                                         "clicked_at",
                                         "updated_at") SELECT g.event_id AS event_id,
                                                              p.recipient_id AS recipient_id,
                                                              c.channel AS channel,
                                                              CASE c.channel
                                                                  WHEN 'email' THEN lower(p.email)
                                                                  WHEN 'whatsapp' THEN p.phone
                                                              END AS to_address,
                                                              g.group_id AS group_id,
                                                              NULL AS own_context,
                                                              %s AS status,
                                                              %s AS attempts,
                                                              %s AS next_attempt_at,
                                                              %s AS priority,
                                                              NULL AS expires_at,
                                                              %s AS claimed_at,
                                                              %s AS claim_token,
                                                              %s AS handed_over_at,
                                                              %s AS provider_message_id,
                                                              %s AS error_code,
                                                              %s AS last_error,
                                                              %s AS rendered_subject,
                                                              %s AS rendered_text,
                                                              %s AS template_version_id,
                                                              %s AS is_test,
                                                              %s AS whatsapp_category,
                                                              %s AS cost,
                                                              %s AS created_at,
                                                              %s AS sent_at,
                                                              %s AS delivered_at,
                                                              %s AS opened_at,
                                                              %s AS clicked_at,
                                                              %s AS updated_at
   FROM
     (SELECT "lms_user"."email" AS "email",
             "lms_user"."phone" AS "phone",
             "lms_user"."whatsapp_opt_in" AS "whatsapp_opt_in",
             "lms_user"."name" AS "name",
             "lms_user"."timezone" AS "timezone",
             "lms_user"."id" AS "recipient_id",
             ("lms_user"."timezone")::text AS "plan_group"
      FROM "lms_user") p
   JOIN jsonb_to_recordset(%s::jsonb) AS g (key text, event_id bigint, group_id bigint, event_key text, subject_id bigint, expires_at timestamptz, link text, context jsonb, title text, message text) ON g.key = p."plan_group"
   JOIN (
         VALUES (%s), (%s)) AS c (channel) ON (c.channel = %s
                                               AND (p.email IS NOT NULL
                                                    AND p.email <> ''))
   OR (c.channel = %s
       AND p.whatsapp_opt_in
       AND p.phone ~ %s)
   WHERE 1 = 1
   ORDER BY event_id,
            recipient_id,
            channel ON CONFLICT DO NOTHING RETURNING channel),
     skipped (s0, s1, s2) AS
  (SELECT SUM(CASE
                  WHEN 1 = 1 THEN (CASE
                                       WHEN (p.email IS NOT NULL
                                             AND p.email <> '') THEN 0
                                       ELSE 1
                                   END)
                  ELSE 0
              END),
          SUM(CASE
                  WHEN 1 = 1 THEN (CASE
                                       WHEN p.whatsapp_opt_in THEN 0
                                       ELSE 1
                                   END)
                  ELSE 0
              END),
          SUM(CASE
                  WHEN 1 = 1
                       AND p.whatsapp_opt_in THEN (CASE
                                                       WHEN p.phone ~ %s THEN 0
                                                       ELSE 1
                                                   END)
                  ELSE 0
              END)
   FROM
     (SELECT "lms_user"."email" AS "email",
             "lms_user"."phone" AS "phone",
             "lms_user"."whatsapp_opt_in" AS "whatsapp_opt_in",
             "lms_user"."name" AS "name",
             "lms_user"."timezone" AS "timezone",
             "lms_user"."id" AS "recipient_id",
             ("lms_user"."timezone")::text AS "plan_group"
      FROM "lms_user") p
   JOIN jsonb_to_recordset(%s::jsonb) AS g (key text, event_id bigint, group_id bigint, event_key text, subject_id bigint, expires_at timestamptz, link text, context jsonb, title text, message text) ON g.key = p."plan_group"
   WHERE NOT coalesce(((p.email IS NOT NULL
                        AND p.email <> '')
                       AND p.whatsapp_opt_in
                       AND p.phone ~ %s), false)
     AND NOT EXISTS
       (SELECT 1
        FROM "notifications_delivery" d
        WHERE d.event_id = g.event_id
          AND d.channel = %s
          AND d.recipient_id = p.recipient_id))
SELECT NULL,
       NULL, ARRAY[s0,
                   s1,
                   s2]
FROM skipped
UNION ALL
SELECT channel,
       count(*),
       NULL
FROM made
GROUP BY channel;

INSERT INTO notifications_notification ("user_id", "kind", "title", "message", "link", "read_at", "created_at", "event_id")
SELECT p.recipient_id AS user_id,
       %s AS kind,
       g.title AS title,
       g.message AS message,
       g.link AS link,
       %s AS read_at,
       %s AS created_at,
       g.event_id AS event_id
FROM
  (SELECT "lms_user"."email" AS "email",
          "lms_user"."phone" AS "phone",
          "lms_user"."whatsapp_opt_in" AS "whatsapp_opt_in",
          "lms_user"."name" AS "name",
          "lms_user"."timezone" AS "timezone",
          "lms_user"."id" AS "recipient_id",
          ("lms_user"."timezone")::text AS "plan_group"
   FROM "lms_user") p
JOIN jsonb_to_recordset(%s::jsonb) AS g (key text, event_id bigint, group_id bigint, event_key text, subject_id bigint, expires_at timestamptz, link text, context jsonb, title text, message text) ON g.key = p."plan_group"
WHERE p.recipient_id IS NOT NULL
ORDER BY event_id,
         user_id ON CONFLICT DO NOTHING;

-- no accounts

INSERT INTO "notifications_messageevent" ("kind",
                                          "key",
                                          "subject_type",
                                          "subject_id",
                                          "created_at")
SELECT DISTINCT %s,
                %s || p.event_key,
                %s,
                p.subject_id,
                %s
FROM
  (SELECT "lms_user"."email" AS "email",
          "lms_user"."name" AS "name",
          "lms_user"."phone" AS "phone",
          "lms_user"."language" AS "language",
          "lms_user"."whatsapp_opt_in" AS "whatsapp_opt_in",
          (NULL)::bigint AS "recipient_id",
          "lms_user"."id" AS "subject_id",
          ("lms_user"."id")::text AS "event_key",
          ("lms_user"."language")::text AS "plan_group",
          coalesce(nullif(split_part("lms_user"."name", ' ', 1), ''), 'there') AS "plan_first_name",
          CASE
              WHEN ("lms_user"."language" IS NOT NULL
                    AND NOT ("lms_user"."language" IN (%s,
                                                       %s))) THEN "lms_user"."language"
              ELSE NULL
          END AS "plan_language"
   FROM "lms_user") p
JOIN jsonb_to_recordset(%s::jsonb) AS g (key text, event_id bigint, group_id bigint, event_key text, subject_id bigint, expires_at timestamptz, link text, context jsonb, title text, message text) ON g.key = p."plan_group"
LEFT JOIN "notifications_messageevent" e ON e.key = %s || p.event_key
WHERE e.id IS NULL ON CONFLICT DO NOTHING;

WITH made AS
  (INSERT INTO "notifications_delivery" ("event_id",
                                         "recipient_id",
                                         "channel",
                                         "to_address",
                                         "group_id",
                                         "own_context",
                                         "status",
                                         "attempts",
                                         "next_attempt_at",
                                         "priority",
                                         "expires_at",
                                         "claimed_at",
                                         "claim_token",
                                         "handed_over_at",
                                         "provider_message_id",
                                         "error_code",
                                         "last_error",
                                         "rendered_subject",
                                         "rendered_text",
                                         "template_version_id",
                                         "is_test",
                                         "whatsapp_category",
                                         "cost",
                                         "created_at",
                                         "sent_at",
                                         "delivered_at",
                                         "opened_at",
                                         "clicked_at",
                                         "updated_at") SELECT e.id AS event_id,
                                                              p.recipient_id AS recipient_id,
                                                              c.channel AS channel,
                                                              CASE c.channel
                                                                  WHEN 'email' THEN lower(p.email)
                                                                  WHEN 'whatsapp' THEN p.phone
                                                              END AS to_address,
                                                              NULL AS group_id,
                                                              g.context || jsonb_build_object('lead_id', p.subject_id, 'name', p.name, 'first_name', p.plan_first_name) || CASE
                                                                                                                                                                               WHEN p.plan_language IS NOT NULL THEN jsonb_build_object('language', p.plan_language)
                                                                                                                                                                               ELSE '{}'
                                                                                                                                                                           END AS own_context,
                                                                                                                                                                           %s AS status,
                                                                                                                                                                           %s AS attempts,
                                                                                                                                                                           %s AS next_attempt_at,
                                                                                                                                                                           %s AS priority,
                                                                                                                                                                           g.expires_at AS expires_at,
                                                                                                                                                                           %s AS claimed_at,
                                                                                                                                                                           %s AS claim_token,
                                                                                                                                                                           %s AS handed_over_at,
                                                                                                                                                                           %s AS provider_message_id,
                                                                                                                                                                           %s AS error_code,
                                                                                                                                                                           %s AS last_error,
                                                                                                                                                                           %s AS rendered_subject,
                                                                                                                                                                           %s AS rendered_text,
                                                                                                                                                                           %s AS template_version_id,
                                                                                                                                                                           %s AS is_test,
                                                                                                                                                                           %s AS whatsapp_category,
                                                                                                                                                                           %s AS cost,
                                                                                                                                                                           %s AS created_at,
                                                                                                                                                                           %s AS sent_at,
                                                                                                                                                                           %s AS delivered_at,
                                                                                                                                                                           %s AS opened_at,
                                                                                                                                                                           %s AS clicked_at,
                                                                                                                                                                           %s AS updated_at
   FROM
     (SELECT "lms_user"."email" AS "email",
             "lms_user"."name" AS "name",
             "lms_user"."phone" AS "phone",
             "lms_user"."language" AS "language",
             "lms_user"."whatsapp_opt_in" AS "whatsapp_opt_in",
             (NULL)::bigint AS "recipient_id",
             "lms_user"."id" AS "subject_id",
             ("lms_user"."id")::text AS "event_key",
             ("lms_user"."language")::text AS "plan_group",
             coalesce(nullif(split_part("lms_user"."name", ' ', 1), ''), 'there') AS "plan_first_name",
             CASE
                 WHEN ("lms_user"."language" IS NOT NULL
                       AND NOT ("lms_user"."language" IN (%s,
                                                          %s))) THEN "lms_user"."language"
                 ELSE NULL
             END AS "plan_language"
      FROM "lms_user") p
   JOIN jsonb_to_recordset(%s::jsonb) AS g (key text, event_id bigint, group_id bigint, event_key text, subject_id bigint, expires_at timestamptz, link text, context jsonb, title text, message text) ON g.key = p."plan_group"
   LEFT JOIN "notifications_messageevent" e ON e.key = %s || p.event_key
   JOIN (
         VALUES (%s), (%s)) AS c (channel) ON (c.channel = %s
                                               AND (p.email IS NOT NULL
                                                    AND p.email <> ''))
   OR (c.channel = %s
       AND p.whatsapp_opt_in
       AND p.phone ~ %s)
   WHERE 1 = 1
   ORDER BY event_id,
            recipient_id,
            channel ON CONFLICT DO NOTHING RETURNING channel),
     skipped (s0, s1, s2) AS
  (SELECT SUM(CASE
                  WHEN 1 = 1 THEN (CASE
                                       WHEN (p.email IS NOT NULL
                                             AND p.email <> '') THEN 0
                                       ELSE 1
                                   END)
                  ELSE 0
              END),
          SUM(CASE
                  WHEN 1 = 1 THEN (CASE
                                       WHEN p.whatsapp_opt_in THEN 0
                                       ELSE 1
                                   END)
                  ELSE 0
              END),
          SUM(CASE
                  WHEN 1 = 1
                       AND p.whatsapp_opt_in THEN (CASE
                                                       WHEN p.phone ~ %s THEN 0
                                                       ELSE 1
                                                   END)
                  ELSE 0
              END)
   FROM
     (SELECT "lms_user"."email" AS "email",
             "lms_user"."name" AS "name",
             "lms_user"."phone" AS "phone",
             "lms_user"."language" AS "language",
             "lms_user"."whatsapp_opt_in" AS "whatsapp_opt_in",
             (NULL)::bigint AS "recipient_id",
             "lms_user"."id" AS "subject_id",
             ("lms_user"."id")::text AS "event_key",
             ("lms_user"."language")::text AS "plan_group",
             coalesce(nullif(split_part("lms_user"."name", ' ', 1), ''), 'there') AS "plan_first_name",
             CASE
                 WHEN ("lms_user"."language" IS NOT NULL
                       AND NOT ("lms_user"."language" IN (%s,
                                                          %s))) THEN "lms_user"."language"
                 ELSE NULL
             END AS "plan_language"
      FROM "lms_user") p
   JOIN jsonb_to_recordset(%s::jsonb) AS g (key text, event_id bigint, group_id bigint, event_key text, subject_id bigint, expires_at timestamptz, link text, context jsonb, title text, message text) ON g.key = p."plan_group"
   LEFT JOIN "notifications_messageevent" e ON e.key = %s || p.event_key
   WHERE NOT coalesce(((p.email IS NOT NULL
                        AND p.email <> '')
                       AND p.whatsapp_opt_in
                       AND p.phone ~ %s), false)
     AND NOT EXISTS
       (SELECT 1
        FROM "notifications_delivery" d
        WHERE d.event_id = e.id
          AND d.channel = %s
          AND d.recipient_id IS NULL
          AND d.to_address = lower(p.email)))
SELECT NULL,
       NULL, ARRAY[s0,
                   s1,
                   s2]
FROM skipped
UNION ALL
SELECT channel,
       count(*),
       NULL
FROM made
GROUP BY channel;
