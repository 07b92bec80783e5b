"""Tessera's LocalStack plugin: moto-backed providers for dynamodb, dynamodbstreams and cognito-idp.

Select them with PROVIDER_OVERRIDE_DYNAMODB=moto, PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto and
PROVIDER_OVERRIDE_COGNITO_IDP=moto.
"""
