{{ config(enabled=false) }}
select 1 as user_id
