import { z } from 'zod';
import { createRoomForUser, inviteForUser, sendForUser } from '../../matrix/appActions';
import { describes } from './common';

export const AppMessageSent = describes(z.object({ event_id: z.string(), sender: z.string() }), sendForUser);
export const AppRoomCreated = describes(z.object({ room_id: z.string(), creator: z.string(), invited: z.array(z.string()) }), createRoomForUser);
export const AppInvited = describes(z.object({ room_id: z.string(), invited: z.string(), by: z.string() }), inviteForUser);
