"""Account URLs."""

from django.urls import path

from ketaclinic.web.accounts import twofactor_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.sign_in, name="login"),
    path("two-factor/", twofactor_views.second_step, name="two_factor"),
    path("logout/", views.sign_out, name="logout"),
    path("switch-clinic/", views.switch_clinic, name="switch_clinic"),
    path("me/", views.account, name="account"),
    path("set-password/<str:token>/", views.set_password, name="set_password"),
]
