-- A copied or staging database must not talk to the live QuickBooks and Bill.com accounts.
-- stop the daily automatic sync
UPDATE billcom_qbo_connection
   SET auto_sync = false,
       running_run_id = NULL;
-- forget every QuickBooks credential
UPDATE billcom_qbo_qbo_company
   SET client_secret = NULL,
       access_token = NULL,
       refresh_token = NULL,
       access_token_expires_at = NULL,
       refresh_token_expires_at = NULL,
       refresh_token_hard_expires_at = NULL,
       state = 'draft';
-- forget every Bill.com credential
UPDATE billcom_qbo_billcom_org
   SET dev_key = NULL,
       password = NULL,
       state = 'draft';
-- drop pending QuickBooks authorizations
DELETE FROM billcom_qbo_oauth_state;
