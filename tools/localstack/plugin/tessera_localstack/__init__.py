"""Tessera's LocalStack plugin: moto-backed providers for dynamodb and cognito-idp.

Select them with PROVIDER_OVERRIDE_DYNAMODB=moto and PROVIDER_OVERRIDE_COGNITO_IDP=moto.
"""
