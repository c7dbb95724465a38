import { Module } from '@nestjs/common';
import { IdentityModule } from '../identity/identity.module';
import { TokenModule } from '../token/token.module';
import { UserInfoController } from './userinfo.controller';
import { UserInfoService } from './userinfo.service';

@Module({ imports: [TokenModule, IdentityModule], controllers: [UserInfoController], providers: [UserInfoService] })
export class UserInfoModule {}
