{
    'name': 'Bill.com <-> QuickBooks Online Sync',
    'summary': 'Keep Bill.com and QuickBooks Online in step: daily sync, previews, run logs',
    'version': '19.0.1.0.0',
    'author': 'Billcom QBO Sync contributors',
    'license': 'LGPL-3',
    'category': 'Accounting',
    'depends': ['base', 'mail'],
    'external_dependencies': {'python': ['requests']},
    'data': [
        'security/security.xml',
        'security/ir.model.access.csv',
        'data/object_types.xml',
        'data/ir_cron.xml',
        'views/qbo_company_views.xml',
        'views/billcom_org_views.xml',
        'views/connection_views.xml',
        'views/sync_run_views.xml',
        'views/link_views.xml',
        'views/tie_out_views.xml',
        'wizards/sync_wizard_views.xml',
        'views/menus.xml',
    ],
    'assets': {
        'web.assets_backend': [
            'billcom_qbo_sync/static/src/**/*',
        ],
        'web.assets_tests': [
            'billcom_qbo_sync/static/tests/tours/**/*',
        ],
    },
    'installable': True,
    'application': True,
}
